"""Clinical context for the Assistant: patient context, risk scores and knowledge-graph tools.

- `patient`: the typed, validated `PatientContext` (our JSON shape; `fhir` reads FHIR R4);
- `scores`: CURB-65, CHA2DS2-VASc, HAS-BLED, Wells (PE), qSOFA, McIsaac/Centor and the Pooled
  Cohort Equations as pure functions that refuse, naming the missing inputs, rather than guess;
- `extract`: the deterministic router that finds score requests and inputs in a message;
- `tools` and `kg_tools`: the Assistant tools (`patient`, `risk_score`, `differential`,
  `lookup`, `entities`). The graph itself lives in the `knowledge` package.
"""
