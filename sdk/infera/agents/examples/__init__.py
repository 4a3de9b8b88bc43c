"""Two runnable agents on the devnet: `python -m infera.agents.examples.news --demo` (headlines
classified by nearest verified prototype, labels posted to NewsLabels) and
`python -m infera.agents.examples.loans --demo` (loan descriptions from LendingPool embedded
through the network, risky ones flagged through the adjuster role)."""
