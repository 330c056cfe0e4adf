//! Who may connect (the password file) and what they may do (the ACL file).
