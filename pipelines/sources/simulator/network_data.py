"""The simulated network as plain data: stations and lines (times are minutes from the line's origin)."""

from __future__ import annotations

# name, EVA number, DS100 code, region, number of platforms
STATIONS: tuple[tuple[str, str, str, str, int], ...] = (
    ("Hamburg Hbf", "8002549", "AH", "North", 14),
    ("Hamburg Dammtor", "8002548", "ADF", "North", 4),
    ("Hamburg-Harburg", "8000147", "AHAR", "North", 6),
    ("Buchholz(Nordheide)", "8000056", "ABLZ", "North", 4),
    ("Rotenburg(Wümme)", "8000315", "HROT", "North", 3),
    ("Bremen Hbf", "8000050", "HB", "North", 10),
    ("Kiel Hbf", "8000199", "AK", "North", 8),
    ("Neumünster", "8000271", "ANM", "North", 5),
    ("Lüneburg", "8000238", "ALBG", "North", 5),
    ("Uelzen", "8000168", "HU", "North", 5),
    ("Celle", "8000064", "HC", "North", 5),
    ("Hannover Hbf", "8000152", "HH", "North", 14),
    ("Osnabrück Hbf", "8000294", "HO", "North", 8),
    ("Ludwigslust", "8010215", "WL", "North", 4),
    ("Münster(Westf)Hbf", "8000263", "EMST", "West", 10),
    ("Bielefeld Hbf", "8000036", "EBIL", "West", 6),
    ("Hamm(Westf)Hbf", "8000149", "EHM", "West", 10),
    ("Unna", "8000171", "EUN", "West", 4),
    ("Holzwickede", "8000164", "EHOL", "West", 3),
    ("Dortmund Hbf", "8000080", "EDO", "West", 16),
    ("Bochum Hbf", "8000041", "EBO", "West", 6),
    ("Hagen Hbf", "8000142", "EHG", "West", 10),
    ("Wuppertal Hbf", "8000266", "KW", "West", 5),
    ("Essen Hbf", "8000098", "EE", "West", 12),
    ("Mülheim(Ruhr)Hbf", "8000259", "EMLR", "West", 6),
    ("Duisburg Hbf", "8000086", "EDG", "West", 13),
    ("Düsseldorf Flughafen", "8000082", "KDFF", "West", 6),
    ("Düsseldorf Hbf", "8000085", "KD", "West", 18),
    ("Köln Messe/Deutz", "8003368", "KKDZ", "West", 12),
    ("Köln Hbf", "8000207", "KK", "West", 11),
    ("Bonn Hbf", "8000044", "KB", "West", 5),
    ("Siegburg/Bonn", "8005556", "KSIB", "West", 4),
    ("Koblenz Hbf", "8000206", "KKO", "West", 10),
    ("Montabaur", "8000667", "FMT", "Rhein-Main", 4),
    ("Frankfurt(Main) Flughafen Fernbf", "8070003", "FFLF", "Rhein-Main", 7),
    ("Frankfurt(Main) Hbf", "8000105", "FF", "Rhein-Main", 24),
    ("Frankfurt(Main) Süd", "8002041", "FFS", "Rhein-Main", 8),
    ("Offenbach(Main)Hbf", "8000349", "FOF", "Rhein-Main", 4),
    ("Hanau Hbf", "8000150", "FH", "Rhein-Main", 10),
    ("Mainz Hbf", "8000240", "FMZ", "Rhein-Main", 6),
    ("Wiesbaden Hbf", "8000250", "FW", "Rhein-Main", 10),
    ("Darmstadt Hbf", "8000068", "FD", "Rhein-Main", 10),
    ("Göttingen", "8000128", "HG", "Central", 10),
    ("Kassel-Wilhelmshöhe", "8003200", "FKW", "Central", 10),
    ("Fulda", "8000115", "FFU", "Central", 9),
    ("Würzburg Hbf", "8000260", "NWH", "South", 10),
    ("Nürnberg Hbf", "8000284", "NN", "South", 22),
    ("Mannheim Hbf", "8000244", "RM", "South", 11),
    ("Heidelberg Hbf", "8000156", "RH", "South", 9),
    ("Karlsruhe Hbf", "8000191", "RK", "South", 16),
    ("Stuttgart Hbf", "8000096", "TS", "South", 16),
    ("Ulm Hbf", "8000170", "TU", "South", 10),
    ("Augsburg Hbf", "8000013", "MA", "South", 9),
    ("München-Pasing", "8004158", "MP", "South", 10),
    ("München Hbf", "8000261", "MH", "South", 32),
    ("Berlin Hbf", "8011160", "BL", "East", 16),
    ("Berlin-Spandau", "8010404", "BSPD", "East", 6),
    ("Berlin Südkreuz", "8011113", "BPAF", "East", 10),
    ("Stendal Hbf", "8010334", "LS", "East", 6),
    ("Wolfsburg Hbf", "8006552", "HWOB", "North", 5),
    ("Braunschweig Hbf", "8000049", "HBS", "North", 8),
    ("Leipzig Hbf", "8010205", "LL", "East", 24),
    ("Halle(Saale)Hbf", "8010159", "LH", "East", 13),
    ("Erfurt Hbf", "8010101", "UE", "East", 10),
)

# A line: id, category, train classes, corridor, headway (min), first and last origin departure
# (local minutes after midnight of the service day), number base, timetable variant ("all", "old"
# before a timetable change, "new" after), route "Station:minute" with "~" marking a station the
# line passes without stopping (an additional stop when served on the day).
LINES: tuple[tuple[str, str, str, str, int, int, int, int, str, str], ...] = (
    ("ICE 10", "ICE", "F", "Berlin-Ruhr", 60, 300, 1200, 400, "all",
     "Berlin Hbf:0 Berlin-Spandau:12 ~Stendal Hbf:45 Wolfsburg Hbf:68 Hannover Hbf:100 Bielefeld Hbf:150 "
     "Hamm(Westf)Hbf:180 Dortmund Hbf:198 Bochum Hbf:210 Essen Hbf:222 Duisburg Hbf:234 "
     "Düsseldorf Hbf:248 Köln Hbf:275"),
    ("ICE 22", "ICE", "F", "Nord-Süd", 120, 330, 1140, 540, "all",
     "Hamburg Hbf:0 Hamburg-Harburg:12 ~Lüneburg:30 Hannover Hbf:80 Göttingen:117 Kassel-Wilhelmshöhe:137 "
     "Fulda:168 ~Hanau Hbf:210 Frankfurt(Main) Hbf:228 Mannheim Hbf:268 Stuttgart Hbf:306"),
    ("ICE 25", "ICE", "F", "Nord-Süd", 120, 300, 1080, 580, "all",
     "Hamburg Hbf:0 Hamburg-Harburg:12 Hannover Hbf:80 Göttingen:117 Kassel-Wilhelmshöhe:137 Fulda:168 "
     "Würzburg Hbf:202 Nürnberg Hbf:260 München Hbf:330"),
    ("ICE 41", "ICE", "F", "Köln-Frankfurt", 120, 330, 1080, 620, "all",
     "Essen Hbf:0 Duisburg Hbf:12 Düsseldorf Hbf:26 Köln Hbf:53 Siegburg/Bonn:72 Montabaur:98 "
     "Frankfurt(Main) Flughafen Fernbf:123 Frankfurt(Main) Hbf:137 ~Hanau Hbf:155 Würzburg Hbf:205 "
     "Nürnberg Hbf:263 München Hbf:330"),
    ("ICE 42", "ICE", "F", "Köln-Frankfurt", 120, 300, 1050, 660, "all",
     "Dortmund Hbf:0 Bochum Hbf:12 Essen Hbf:24 Duisburg Hbf:36 Düsseldorf Hbf:50 Köln Hbf:77 "
     "Siegburg/Bonn:95 Montabaur:121 Frankfurt(Main) Flughafen Fernbf:146 Mannheim Hbf:182 "
     "Stuttgart Hbf:222 Ulm Hbf:280 Augsburg Hbf:325 München-Pasing:352 München Hbf:360"),
    ("ICE 28", "ICE", "F", "Berlin-München", 120, 330, 1200, 1000, "all",
     "Berlin Hbf:0 Berlin Südkreuz:7 ~Halle(Saale)Hbf:60 Leipzig Hbf:75 Erfurt Hbf:118 Nürnberg Hbf:185 "
     "München Hbf:250"),
    ("ICE 18", "ICE", "F", "Hamburg-Berlin", 120, 360, 1260, 1100, "new",
     "Hamburg Hbf:0 Ludwigslust:65 Berlin-Spandau:95 Berlin Hbf:108 Berlin Südkreuz:116 "
     "Halle(Saale)Hbf:180 Leipzig Hbf:200"),
    ("IC 31", "IC", "F", "Hamburg-Ruhr", 120, 330, 1140, 2000, "all",
     "Kiel Hbf:0 Neumünster:20 Hamburg Dammtor:70 Hamburg Hbf:76 Hamburg-Harburg:88 Bremen Hbf:135 "
     "Osnabrück Hbf:185 Münster(Westf)Hbf:211 Dortmund Hbf:240 Hagen Hbf:260 Wuppertal Hbf:278 Köln Hbf:312"),
    ("IC 32", "IC", "F", "Rhein", 120, 300, 1200, 2300, "all",
     "Dortmund Hbf:0 Bochum Hbf:12 Essen Hbf:24 Duisburg Hbf:36 Düsseldorf Hbf:50 Köln Hbf:77 Bonn Hbf:100 "
     "Koblenz Hbf:135 Mainz Hbf:190 Mannheim Hbf:230 Heidelberg Hbf:243 Stuttgart Hbf:285"),
    ("IC 26", "IC", "F", "Nord-Süd", 240, 360, 1020, 2070, "all",
     "Hamburg Hbf:0 Hamburg-Harburg:12 Lüneburg:30 Uelzen:52 Celle:86 Hannover Hbf:105 Göttingen:150 "
     "Kassel-Wilhelmshöhe:172 Frankfurt(Main) Hbf:265 Darmstadt Hbf:285 Heidelberg Hbf:318 "
     "Karlsruhe Hbf:345"),
    ("IC 55", "IC", "F", "Mitteldeutschland-Ruhr", 120, 330, 1140, 2040, "all",
     "Leipzig Hbf:0 Halle(Saale)Hbf:25 Braunschweig Hbf:110 Hannover Hbf:145 Bielefeld Hbf:200 "
     "Hamm(Westf)Hbf:230 Hagen Hbf:255 Wuppertal Hbf:272 Köln Hbf:305"),
    ("RE 1", "RE", "N", "Rhein-Ruhr", 30, 270, 1380, 10000, "all",
     "Hamm(Westf)Hbf:0 Dortmund Hbf:20 Bochum Hbf:31 Essen Hbf:42 Mülheim(Ruhr)Hbf:49 Duisburg Hbf:57 "
     "Düsseldorf Flughafen:66 Düsseldorf Hbf:74 Köln Messe/Deutz:98 Köln Hbf:102"),
    ("RE 6", "RE", "N", "Rhein-Ruhr", 30, 290, 1350, 10200, "all",
     "Düsseldorf Hbf:0 Düsseldorf Flughafen:8 Duisburg Hbf:17 Essen Hbf:30 Bochum Hbf:41 Dortmund Hbf:53 "
     "Hamm(Westf)Hbf:75 Bielefeld Hbf:115"),
    ("RE 7", "RE", "N", "Ruhr-Wupper", 60, 280, 1370, 10400, "all",
     "Münster(Westf)Hbf:0 Hamm(Westf)Hbf:27 Hagen Hbf:55 Wuppertal Hbf:72 Köln Messe/Deutz:108 Köln Hbf:112"),
    ("RE 5", "RE", "N", "Rhein", 60, 275, 1360, 10600, "all",
     "Koblenz Hbf:0 Bonn Hbf:40 Köln Hbf:62 Köln Messe/Deutz:66 Düsseldorf Hbf:92 Düsseldorf Flughafen:100 "
     "Duisburg Hbf:110"),
    ("RE 3", "RE", "N", "Hamburg-Hannover", 60, 285, 1365, 10800, "old",
     "Hamburg Hbf:0 Hamburg-Harburg:12 Lüneburg:33 Uelzen:58 Celle:95 Hannover Hbf:118"),
    ("RE 2", "RE", "N", "Hamburg-Hannover", 60, 295, 1375, 11800, "new",
     "Hamburg Hbf:0 Hamburg-Harburg:14 Lüneburg:35 Uelzen:60 Celle:98 Hannover Hbf:121"),
    ("RE 50", "RE", "N", "Kinzigtal", 60, 280, 1380, 11000, "all",
     "Frankfurt(Main) Hbf:0 ~Offenbach(Main)Hbf:10 Hanau Hbf:20 Fulda:80"),
    ("RB 41", "RB", "N", "Hamburg-Bremen", 60, 270, 1390, 20000, "all",
     "Hamburg Hbf:0 Hamburg-Harburg:12 Buchholz(Nordheide):28 Rotenburg(Wümme):55 Bremen Hbf:80"),
    ("RB 59", "RB", "N", "Hellweg", 30, 280, 1400, 21000, "all",
     "Dortmund Hbf:0 Holzwickede:12 Unna:20"),
    ("RB 40", "RB", "N", "Ruhr", 30, 275, 1395, 20400, "all",
     "Essen Hbf:0 Bochum Hbf:12 Hagen Hbf:35"),
    ("RB 61", "RB", "N", "Kiel-Hamburg", 60, 270, 1380, 20600, "all",
     "Kiel Hbf:0 Neumünster:22 Hamburg Dammtor:68 Hamburg Hbf:74"),
    ("RB 58", "RB", "N", "Rhein-Main", 60, 290, 1400, 20800, "all",
     "Frankfurt(Main) Hbf:0 Frankfurt(Main) Süd:6 Offenbach(Main)Hbf:14 Hanau Hbf:25"),
    ("S 1", "S", "S", "Rhein-Ruhr", 20, 270, 1410, 30000, "all",
     "Dortmund Hbf:0 Bochum Hbf:14 Essen Hbf:28 Mülheim(Ruhr)Hbf:38 Duisburg Hbf:48 Düsseldorf Hbf:68"),
    ("S 8", "S", "S", "Rhein-Main", 60, 280, 1420, 30200, "all",
     "Wiesbaden Hbf:0 Mainz Hbf:12 Frankfurt(Main) Flughafen Fernbf:28 Frankfurt(Main) Hbf:40 "
     "~Frankfurt(Main) Süd:47 Offenbach(Main)Hbf:55"),
    ("S 3", "S", "S", "Hamburg S-Bahn", 20, 270, 1420, 30400, "all",
     "Hamburg Dammtor:0 Hamburg Hbf:4 Hamburg-Harburg:17"),
    ("S 5", "S", "S", "Berlin S-Bahn", 20, 270, 1420, 30600, "all",
     "Berlin-Spandau:0 Berlin Hbf:16 Berlin Südkreuz:30"),
    ("S 6", "S", "S", "Hannover S-Bahn", 30, 280, 1410, 30800, "all",
     "Hannover Hbf:0 Celle:30"),
)
