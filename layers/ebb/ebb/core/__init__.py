"""ebb's pure decisions: replicas per scaler, node plans per NodePool. No I/O, no clock, no environment."""
