from fraiday_cli.launcher import run

run()
