"""`smolopt teach`: a registry model writes a task's reference outputs into the task folder (`command`)."""
