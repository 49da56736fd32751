"""Online data-quality checks: spikes, rates of change, flatliners, gaps, solar position."""
