"""Plain nn.Modules (networks, losses); nothing here knows about Lightning."""
