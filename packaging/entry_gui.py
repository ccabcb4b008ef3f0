from notellm.app.main import main

raise SystemExit(main())
