//! shoal-engine (skeleton; filled in by the serving-core work).
