from notellm.engine.cli import main

main()
