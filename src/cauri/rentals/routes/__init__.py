"""The rentals marketplace's HTTP routes, one file per resource; ``cauri.rentals.router`` assembles them."""
