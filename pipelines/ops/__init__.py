"""Running the tools locally: Airflow standalone and its REST client and metadata DB settings, process
control, and a loopback SMTP capture. Imports no stage family."""
