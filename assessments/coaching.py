"""AI-coaching simulations: scenario content, the path through it, and scores.

Pure Python: no Flask, no database.

A scenario version's ``content`` (bilingual texts are {"zh": …, "en": …}):

    {
      "persona": {
        "industry": "medical-devices",        # optional facet key
        "customer_type": "key-account",       # optional facet key
        "name": {"zh": "王主任", "en": "Director Wang"},
        "role": {"zh": …, "en": …},
        "organisation": {"zh": …, "en": …},
        "situation": {"zh": …, "en": …}
      },
      "start": "t1",
      "turns": [
        {
          "id": "t1",
          "customer": {"zh": …, "en": …},     # what the customer says
          "context": {"zh": …, "en": …},      # optional: what the rep knows here
          "suggestions": [                     # one or more AI-assistant suggestions
            {"id": "s1", "text": {…}, "sound": true, "explanation": {…}},
            {"id": "s2", "text": {…}, "sound": false,
             "flaws": ["wrong_price"], "explanation": {…}}
          ],
          "next": "t2",                        # optional; none: the scenario ends
          "branches": [                        # optional; the first match wins
            {"suggestion": "s2", "decision": "accept", "next": "t3b"}
          ]
        }
      ],
      "note_rubric": {"criteria": […]}       # optional; ``scoring`` rubric format
    }

Flaw types: ``FLAW_TYPES``. Branch decisions: accept, edit, reject, or
not_accept (edit or reject). ``explanation``, ``sound`` and ``flaws`` are the
ground truth: they never reach the browser before submission.
"""
