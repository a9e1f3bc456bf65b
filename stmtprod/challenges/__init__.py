"""Challenge pieces: known-bad pieces planted in every real run to prove, each night, that the 100%
checks are not blind (issue 16). See `step` for how a run plants, damages and judges them."""
