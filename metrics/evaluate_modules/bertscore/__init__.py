"""The folder `evaluate.load` takes; a package only so that wheels ship the module file."""
