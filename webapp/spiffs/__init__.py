"""SPIFFs: short sales incentives on products or categories, paid per unit or as a percent."""
