//! shoal-zonedb (skeleton)
