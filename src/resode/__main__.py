from resode.cli import run

run()
