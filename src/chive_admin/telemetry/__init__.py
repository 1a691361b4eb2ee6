"""What the server says about itself: Prometheus metrics, logs, process and database health."""
