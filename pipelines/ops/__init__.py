"""Running the tools locally: Airflow standalone and its REST client and metadata DB settings, process
control, and a loopback SMTP capture. Imports the shared core and `runtime.schedule`, no stage family."""
