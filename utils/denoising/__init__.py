"""Denoising: the lecture's autoencoder and DnCNN, classical denoisers, image quality (PSNR/SSIM), and
the long training runs behind the shipped checkpoints (`python -m utils.train`)."""
