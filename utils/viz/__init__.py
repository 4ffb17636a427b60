"""Figures: image grids, training curves, boxes and label maps on images, tracks in video, slices and surfaces of
volumes, and one palette for every notebook."""
