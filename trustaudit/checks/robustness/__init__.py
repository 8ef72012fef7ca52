"""Robustness checks on the Adversarial Robustness Toolbox (ART).

* ``robustness.adversarial`` (:mod:`.adversarial`): adversarial accuracy and attack success rate per budget with
  FGSM/PGD (gradients), DecisionTreeAttack (decision trees) or HopSkipJump (any model), on valid tabular rows.
* ``robustness.noise`` (:mod:`.noise`): prediction flip rate under Gaussian noise and random category changes.
* ``robustness.membership_inference`` (:mod:`.privacy`): ART's black-box membership inference attack.

Validity constraints for tabular rows live in :mod:`.constraints`, Wilson/Newcombe intervals in :mod:`.stats`.
Nothing here imports ART at module import time.
"""
