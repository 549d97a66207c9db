// Fanzha: see Rules/ (compiler) and Engine/ (scanner).
