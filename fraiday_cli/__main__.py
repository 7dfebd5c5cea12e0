from fraiday_cli.main import run

run()
