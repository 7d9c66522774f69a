"""Host-side code of the lab matrix: the matrix definition, expectations, containers, report."""
