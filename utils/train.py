"""Entry point `python -m utils.train dncnn|autoencoder`: the shipped checkpoints' training runs.

The code lives in `utils.denoising.training`; this file keeps the commands recorded in the
checkpoints' provenance working.
"""

from utils.denoising.training import main

if __name__ == "__main__":
    main()
