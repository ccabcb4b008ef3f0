from notellm.app.main import main

main()
