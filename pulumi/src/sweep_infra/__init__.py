"""The sweep infrastructure: Pulumi components wired by pulumi/__main__.py, one stack per stage."""
