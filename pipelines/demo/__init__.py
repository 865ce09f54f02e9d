"""`make demo`: the closed loop on the simulator through a real Airflow, with its report."""
