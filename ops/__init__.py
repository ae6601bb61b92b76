"""Operations: the code that starts servers (the team stack) and runs work elsewhere. It uses the ML
library (autoencoders); the library never imports it. Its dependencies are the `team` extra."""
