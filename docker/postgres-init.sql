-- Run once by the postgres image on an empty volume: MLflow's and Railcast's own state databases
-- (Airflow's metadata database, `airflow`, is created by POSTGRES_DB).
CREATE DATABASE mlflow OWNER railcast;
CREATE DATABASE state OWNER railcast;
