"""GEPA for tiny models: smolopt's GEPAAdapter, proposers (reflection, few-shot injection, echo guard) and guards."""
