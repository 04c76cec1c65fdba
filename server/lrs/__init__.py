"""The embedded learning-record store (xAPI 1.0.3 at `/xapi/`): resources (`service`, `documents`),
request plumbing (`http`), validation (`validate`), shapes (`format`), queries (`query`), attachments
and signatures (`attachments`), SQLite storage (`store`) and `halls lrs-user` (`cli`)."""
