"""Where the data comes from: the DBF departure-board client and poller, the simulator, and the stages that
turn either into snapshots (`ingest`, `simulate`). Rail-specific: may import the top-level modules only."""
