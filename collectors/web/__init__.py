"""HTTP plumbing shared by every route: host/origin/size guards, token auth, error answers."""
