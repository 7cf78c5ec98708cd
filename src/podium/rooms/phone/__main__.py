from podium.rooms.phone.gateway import main

main()
