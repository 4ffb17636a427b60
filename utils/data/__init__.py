"""The course's data: scikit-image photos, noise, patches, synthetic scenes, and on-disk formats (COCO, Pet).

Everything is generated or ships with a package; nothing downloads.
"""
