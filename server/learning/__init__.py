"""Members and their learning: sign-in and sessions (`auth`), the HTTP API (`routes`, reading every
request through `request_models` first), grading (`quiz`), the learning record in SQLite
(`learners`), xAPI statements (`records`), the durable outbox (`outbox`) and its forwarder to the LRS
(`forwarder`), and trainer reports (`progress`)."""
