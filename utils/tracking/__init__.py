"""Detection and tracking in video: bounding tubes (tubes), TrackNet (tracknet), linking tubes and frame
detections into tracks (linking), and the tracking metrics (evaluation, through motmetrics)."""
