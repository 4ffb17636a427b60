"""The course's data: scikit-image photos, noise, patches, synthetic scenes, traffic videos and ultrasound-like
volumes, pixels (to uint8), and on-disk formats (COCO, Pet, MOTChallenge, NIfTI).

Everything is generated or ships with a package; nothing downloads.
"""
