"""Continued monitoring (``reconwatch watch``): follow files and syslog streams,
run the detections over a rolling window every half second, and alert.

``tail`` follows files (rotation, truncation, new files), ``receiver`` takes
syslog over UDP and TCP, ``window`` keeps the recent events, ``detector``
re-runs the compiled detections, ``watchlist`` watches earlier cases'
actors, ``alerts`` sends, and ``runner`` ties one cycle together. See
docs/watch.md.
"""
