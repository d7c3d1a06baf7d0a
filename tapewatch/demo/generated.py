"""A headline stream the project writes itself, for the demo on a machine without the labelled
data sets (any fresh clone): invented companies and tickers, templates per topic and sentiment,
numbers drawn at random. The mix is roughly that of a financial wire (most headlines neutral,
about one in six negative); the burst pool is strongly negative energy news, kept out of the
baseline so the Energy | Oil topic's history stays ordinary. Deterministic for a given seed.
"""

from __future__ import annotations

import random

from tapewatch.demo.scenario import Pools

COMPANIES = [
    ("Quorvane Bank", "QRVB"),
    ("Zorblax Industries", "ZBLX"),
    ("Helidor Energy", "HLDR"),
    ("Marrowfield Petroleum", "MRWF"),
    ("Tessaline Motors", "TSLN"),
    ("Brightwell Pharma", "BRWP"),
    ("Ostrander Mining", "OSTM"),
    ("Calyx Semiconductors", "CLYX"),
    ("Nimbra Airlines", "NMBA"),
    ("Ferrovia Rail", "FRVR"),
    ("Lumenhall Retail", "LMHL"),
    ("Keystar Insurance", "KYST"),
    ("Pelagic Shipping", "PLGS"),
    ("Arvenna Foods", "ARVN"),
    ("Solmere Utilities", "SLMR"),
    ("Dunmore Telecom", "DNMR"),
]
OIL_COMPANIES = [
    ("Helidor Energy", "HLDR"),
    ("Marrowfield Petroleum", "MRWF"),
    ("Basalt Ridge Oil", "BSRO"),
    ("Northreach Refining", "NRRF"),
]
PEOPLE = ["Dana Whitcombe", "Ilya Varnov", "Mei Takashiro", "Olu Adeyemi", "Greta Lindqvist"]
BANKS = ["the Fed", "the ECB", "the Bank of England", "the Bank of Japan"]
CURRENCIES = ["euro", "yen", "sterling", "Swiss franc", "yuan"]
METALS = ["gold", "silver", "copper", "nickel"]

# (topic, sentiment) -> templates. {co} company, {tk} ticker, {p} percent, {q} quarter,
# {b} billions, {who} a person, {cb} central bank, {fx} currency, {m} metal, {co2} another.
TEMPLATES: dict[tuple[str, str], list[str]] = {
    ("Earnings", "neutral"): [
        "{co} to report {q} results on Thursday",
        "{co} ({tk}) {q} earnings call scheduled for next week",
        "What to expect from {co} {q} earnings",
    ],
    ("Earnings", "positive"): [
        "{co} beats {q} estimates as revenue rises {p}%",
        "{co} ({tk}) raises full-year guidance after strong {q}",
    ],
    ("Earnings", "negative"): [
        "{co} misses {q} estimates, shares slide {p}%",
        "{co} cuts full-year outlook on weak demand",
    ],
    ("Energy | Oil", "neutral"): [
        "{co} to present refinery expansion plan at investor day",
        "OPEC+ ministers meet on Sunday to review output quotas",
        "Oil traders await weekly U.S. inventory data",
        "{co} ({tk}) names new head of upstream operations",
        "Oil steady near $8{p} as traders weigh supply and demand",
        "Crude oil futures little changed in Asian trade",
        "Natural gas inventories rise in line with forecasts",
        "{co} signs LNG supply deal with {co2}",
        "Oil edges up {p} cents ahead of OPEC+ meeting",
    ],
    ("Energy | Oil", "positive"): [
        "Crude rises {p}% as inventories draw down",
        "{co} ({tk}) shares gain after new offshore discovery",
    ],
    ("Fed | Central Banks", "neutral"): [
        "{cb} holds rates steady, signals patience",
        "{cb} minutes due at 2 p.m.",
        "Markets price in one cut from {cb} this year",
    ],
    ("Fed | Central Banks", "negative"): [
        "{cb} warns inflation fight is far from over",
    ],
    ("M&A | Investments", "neutral"): [
        "{co} in talks to acquire {co2}, sources say",
        "{co} ({tk}) explores sale of logistics unit",
    ],
    ("M&A | Investments", "positive"): [
        "{co} agrees to buy {co2} for ${b} billion",
    ],
    ("Markets", "neutral"): [
        "Stocks mixed ahead of jobs report",
        "European shares open flat; {co} in focus",
        "Wall Street week ahead: earnings and inflation data",
    ],
    ("Markets", "positive"): [
        "Stocks rally to record as tech climbs {p}%",
    ],
    ("Markets", "negative"): [
        "Stocks fall as bond yields jump",
    ],
    ("Stock Movement", "positive"): [
        "{co} ({tk}) shares jump {p}% in early trading",
        "${tk} up {p}% after upgrade",
    ],
    ("Stock Movement", "negative"): [
        "{co} ({tk}) shares drop {p}% after downgrade",
        "${tk} falls {p}% premarket",
    ],
    ("Stock Movement", "neutral"): [
        "{co} ({tk}) shares halted pending news",
    ],
    ("Analyst Update", "neutral"): [
        "Analyst initiates {co} ({tk}) at neutral",
        "{co} price target maintained at ${b}0",
    ],
    ("Analyst Update", "positive"): [
        "{co} ({tk}) upgraded to buy, target raised",
    ],
    ("Analyst Update", "negative"): [
        "{co} ({tk}) downgraded to sell on margin pressure",
    ],
    ("Dividend", "neutral"): [
        "{co} declares quarterly dividend of $0.{p} per share",
        "{co} ({tk}) dividend payable next month",
    ],
    ("Dividend", "positive"): [
        "{co} raises dividend {p}% and announces buyback",
    ],
    ("IPO", "neutral"): [
        "{co} files for U.S. IPO",
        "{co} sets IPO price range at ${p} to ${b}0",
    ],
    ("Legal | Regulation", "neutral"): [
        "Regulators review {co} ({tk}) acquisition of {co2}",
    ],
    ("Legal | Regulation", "negative"): [
        "{co} faces probe over accounting practices",
    ],
    ("Macro", "neutral"): [
        "U.S. retail sales rise {p}% in line with forecasts",
        "Euro zone PMI unchanged in November",
        "Jobless claims steady at 2{p}0,000",
    ],
    ("Macro", "negative"): [
        "Factory orders fall for a third month",
    ],
    ("Currencies", "neutral"): [
        "Dollar steady against the {fx} ahead of data",
        "The {fx} edges higher in quiet trade",
    ],
    ("Gold | Metals | Materials", "neutral"): [
        "{m} little changed as traders await {cb}",
        "{co} ({tk}) expands {m} output at northern mine",
    ],
    ("Personnel Change", "neutral"): [
        "{co} appoints {who} as chief financial officer",
        "{co} ({tk}) CEO {who} to step down next year",
    ],
    ("Company | Product News", "neutral"): [
        "{co} unveils new product line at trade show",
        "{co} ({tk}) opens plant in Ohio",
    ],
    ("Company | Product News", "positive"): [
        "{co} wins ${b} billion government contract",
    ],
}

# The burst: unmistakably negative oil and energy news.
BURST_TEMPLATES = [
    "Oil prices plunge {p}% as OPEC+ talks collapse",
    "Crude tumbles to two-year low on demand fears",
    "Brent crashes {p}% as supply glut worsens",
    "Oil major {co} posts record loss as crude prices crash",
    "{co} slashes dividend as oil price slump deepens",
    "{co} warns of heavy losses as crude falls below $50",
    "Oil slides for a fifth day; energy stocks hit hardest",
    "{co} cuts oil output and jobs amid crude price rout",
    "Natural gas prices collapse {p}% on mild weather",
    "Energy sell-off deepens as oil prices collapse {p}%",
    "OPEC+ fails to agree cuts; crude oil plunges",
    "Oil demand forecast slashed; crude slumps {p}%",
]
# How often each sentiment appears in the baseline: mostly neutral, as on a news wire.
SENTIMENT_WEIGHT = {"neutral": 6, "positive": 2, "negative": 1.5}
VARIANTS = 40  # fillings per template


def _fill(template: str, rng: random.Random, companies: list[tuple[str, str]]) -> str:
    (co, tk), (co2, _) = rng.sample(companies, 2)
    return template.format(
        co=co,
        tk=tk,
        co2=co2,
        p=rng.randint(2, 19),
        q=rng.choice(["first-quarter", "second-quarter", "third-quarter", "fourth-quarter"]),
        b=rng.randint(2, 9),
        who=rng.choice(PEOPLE),
        cb=rng.choice(BANKS),
        fx=rng.choice(CURRENCIES),
        m=rng.choice(METALS).capitalize() if template.startswith("{m}") else rng.choice(METALS),
    )


def generated_pools(seed: int = 7) -> Pools:
    """The baseline mix and the burst pool, as :func:`~tapewatch.demo.scenario.load_pools`
    returns them for the labelled data."""
    rng = random.Random(seed)
    baseline: dict[str, None] = {}
    for (topic, sentiment), templates in TEMPLATES.items():
        pool = OIL_COMPANIES if topic == "Energy | Oil" else COMPANIES
        for template in templates:
            count = int(VARIANTS * SENTIMENT_WEIGHT[sentiment])
            for _ in range(count):
                baseline[_fill(template, rng, pool)] = None
    burst: dict[str, None] = {}
    for template in BURST_TEMPLATES:
        for _ in range(VARIANTS):
            burst[_fill(template, rng, OIL_COMPANIES)] = None
    titles = list(baseline)
    rng.shuffle(titles)
    return Pools(baseline=[t for t in titles if t not in burst], burst=list(burst))
