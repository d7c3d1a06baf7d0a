"""Label sets of the two heads and the mapping from the training data's class ids."""

from __future__ import annotations

# twitter-financial-news-topic ids 0..19, in order.
TOPICS: tuple[str, ...] = (
    "Analyst Update",
    "Fed | Central Banks",
    "Company | Product News",
    "Treasuries | Corporate Debt",
    "Dividend",
    "Earnings",
    "Energy | Oil",
    "Financials",
    "Currencies",
    "General News | Opinion",
    "Gold | Metals | Materials",
    "IPO",
    "Legal | Regulation",
    "M&A | Investments",
    "Macro",
    "Markets",
    "Politics",
    "Personnel Change",
    "Stock Commentary",
    "Stock Movement",
)

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")

# twitter-financial-news-sentiment ids: 0 Bearish, 1 Bullish, 2 Neutral.
SENTIMENT_FROM_DATASET: dict[int, int] = {
    0: SENTIMENTS.index("negative"),
    1: SENTIMENTS.index("positive"),
    2: SENTIMENTS.index("neutral"),
}

IGNORE = -100  # label of the head a row carries no label for (masked out of the loss)
