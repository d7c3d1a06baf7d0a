// The API page: the endpoints and their parameters, read from the OpenAPI schema.
"use strict";

(async () => {
  const { el } = TW;
  const schema = await TW.getJSON("/api/v1/openapi.json");
  const out = [];
  for (const [path, methods] of Object.entries(schema.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters || []).map((p) => {
        const s = p.schema || {};
        const kind = s.enum ? s.enum.join(" | ") : s.type || (s.anyOf || []).map((a) => a.type || (a.enum || []).join(" | ")).join(" or ");
        return el("li", {}, el("code", {}, p.name), ` (${p.in}${p.required ? ", required" : ""}): ${kind}${p.description ? ` — ${p.description}` : ""}`);
      });
      const example = path.includes("{") ? el("code", {}, path) : el("a", { href: path }, path);
      out.push(el("section", { class: "card" }, el("h2", {}, `${method.toUpperCase()} `, example), el("p", {}, op.summary || ""), el("ul", {}, ...params)));
    }
  }
  document.getElementById("endpoints").replaceChildren(...out);
  document.getElementById("status").textContent = `OpenAPI ${schema.openapi}`;
})();
