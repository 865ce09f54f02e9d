"""Point-in-time features, late-arriving labels and the non-learned baselines per service date
(`build_features`). Rail-specific: may import detection, validation and the top-level modules."""
