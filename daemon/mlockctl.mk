# mlockctl.mk: filled in by its module's work
