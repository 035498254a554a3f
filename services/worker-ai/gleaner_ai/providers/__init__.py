"""AI providers behind one interface (base.Provider); registry.build_provider picks one per AIModel."""
