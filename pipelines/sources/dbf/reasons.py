"""IRIS delay-reason codes and the texts boards show (docs/RAIL_FACTS.md section 1): the one table."""

from __future__ import annotations

# code -> text as shown in messages.delay; the simulator renders these texts, ingest maps them back.
REASON_TEXTS: dict[str, str] = {
    "11": "Unwetter",
    "18": "Umgestürzter Baum auf der Strecke",
    "31": "Bauarbeiten",
    "35": "Streckensperrung",
    "36": "Technische Störung am Zug",
    "43": "Verspätung eines vorausfahrenden Zuges",
    "52": "Streik",
    "58": "Umleitung",
    "59": "Schnee und Eis",
    "66": "Hochwasser",
    "68": "Hohes Fahrgastaufkommen",
    "99": "Verzögerungen im Betriebsablauf",
}

# Quality-of-service notes (messages.qos): not delay reasons, listed so no one mistakes them for one.
QOS_TEXTS: dict[str, str] = {"70": "WLAN nicht verfügbar", "80": "Abweichende Wagenreihung"}

TEXT_TO_CODE: dict[str, str] = {text: code for code, text in REASON_TEXTS.items()}
