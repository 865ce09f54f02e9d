"""Departure detection: snapshot sessions per train and station, decided departures per closed service
date (`detect_departures`) and their accuracy against the simulator's truth. Rail-specific."""
