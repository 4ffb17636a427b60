"""Figures: image grids, training curves, boxes and label maps on images, and one palette for every notebook."""
