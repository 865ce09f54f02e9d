"""`railcast serve`: the prediction API over the registry's champion, hot reload, Prometheus metrics."""
