#!/usr/bin/python3
"""Generate the training corpus of short, simple stories from templates and word lists.

Every story has 7 to 10 sentences of plain ASCII English and ends with a closing
sentence, "The end." or both. Stories are written one after another, each followed by
the separator text <|endoftext|>, with no newlines. The same seed always gives the same
file.

Usage: make_corpus.py --output corpus.txt [--stories N] [--seed S]
"""

import argparse
import dataclasses
import random
import sys

SEPARATOR = "<|endoftext|>"

GIRL_NAMES = [
    "Lily", "Mia", "Sue", "Anna", "Emma", "Lucy", "Ella", "Zoe", "Rosa", "Amy",
    "Kate", "Nina", "Sara", "Ruby", "Ivy", "Maya", "Jane", "Lila", "Tina", "Grace",
]
BOY_NAMES = [
    "Tom", "Ben", "Sam", "Max", "Leo", "Jack", "Tim", "Finn", "Noah", "Joe",
    "Luke", "Dan", "Eli", "Owen", "Jake", "Alex", "Paul", "Hugo", "Ned", "Carl",
]
ANIMAL_NAMES = [
    "Pip", "Spot", "Fluffy", "Coco", "Buddy", "Daisy", "Bubbles", "Rex", "Misty", "Pepper",
    "Sunny", "Bingo", "Whiskers", "Peanut", "Honey", "Biscuit", "Patch", "Ziggy", "Goldie", "Nibbles",
]
ANIMALS = [
    "cat", "dog", "bunny", "bird", "fox", "bear", "duck", "frog", "mouse", "owl",
    "pig", "cow", "horse", "lamb", "turtle", "squirrel", "puppy", "kitten", "deer", "goat",
    "hen", "lion", "tiger", "monkey", "elephant", "giraffe", "bee", "butterfly", "hedgehog", "penguin",
]
CHILD_WORDS = {"she": ["girl"], "he": ["boy"]}
TRAITS = ["little", "small", "kind", "happy", "brave", "curious", "shy", "silly", "clever", "gentle", "young", "funny"]
ANIMAL_COLORS = ["red", "blue", "green", "yellow", "pink", "purple", "orange", "brown", "white", "black", "gray"]
COLORS = ANIMAL_COLORS + ["shiny", "soft", "old", "new"]
OBJECTS = [
    "ball", "kite", "toy car", "doll", "teddy bear", "hat", "book", "drum", "boat", "balloon",
    "shoe", "blanket", "cup", "truck", "train", "shell", "rock", "bike", "scarf", "ring",
    "box", "key", "crayon", "robot", "whistle", "bucket", "sock", "spoon", "star", "bell",
]
# Each place is (name, the phrase for being there, the phrase for going there).
PLACES = [
    ("park", "in the park", "to the park"),
    ("garden", "in the garden", "to the garden"),
    ("forest", "in the forest", "to the forest"),
    ("beach", "at the beach", "to the beach"),
    ("farm", "on the farm", "to the farm"),
    ("lake", "by the lake", "to the lake"),
    ("hill", "on the hill", "up the hill"),
    ("town", "in the town", "to the town"),
    ("school", "at school", "to school"),
    ("library", "at the library", "to the library"),
    ("zoo", "at the zoo", "to the zoo"),
    ("river", "by the river", "to the river"),
    ("meadow", "in the meadow", "to the meadow"),
    ("yard", "in the yard", "to the yard"),
    ("barn", "in the barn", "to the barn"),
    ("pond", "by the pond", "to the pond"),
    ("market", "at the market", "to the market"),
    ("playground", "at the playground", "to the playground"),
    ("woods", "in the woods", "to the woods"),
    ("kitchen", "in the kitchen", "to the kitchen"),
]
# Places that read well after "lived near a big".
NEARBY_PLACES = ["park", "garden", "forest", "farm", "lake", "hill", "town", "river", "meadow", "pond", "zoo"]
HIDING_SPOTS = [
    "under the bed", "behind the door", "in the toy box", "under a big leaf", "behind a tree",
    "under the table", "in the grass", "next to a rock", "inside a bush", "under the sofa",
    "in a puddle", "on a high shelf", "under a pile of leaves", "in the sand", "near the fence",
]
FAMILY = ["mom", "dad", "grandma", "grandpa", "big sister", "big brother", "aunt", "uncle"]
FOODS = [
    "apple pie", "warm soup", "a big cake", "cookies", "bread and jam", "pancakes", "ice cream",
    "sweet berries", "a sandwich", "carrots", "honey cakes", "a red apple", "some cheese", "a banana",
]
PLAY_ACTIONS = [
    "played tag", "played hide and seek", "ran in circles", "sang songs", "danced in the sun",
    "played catch", "looked at the clouds", "picked flowers", "jumped in puddles",
    "told funny stories", "built a little house of sticks", "rolled down the grass",
    "chased butterflies", "made a big pile of leaves", "splashed in the water",
]
WEATHER = ["sunny", "rainy", "windy", "snowy", "cloudy", "warm", "cold", "bright"]
HAPPY_FEELINGS = ["happy", "glad", "proud", "excited", "thankful", "calm"]
SAD_FEELINGS = ["sad", "worried", "upset", "lonely"]
SCARY_THINGS = [
    ("the dark", "it was dark in the room", "the night light"),
    ("thunder", "a loud storm came", "a warm blanket"),
    ("the big waves", "the waves were big and loud", "a hand to hold"),
    ("a big dog", "a big dog barked at the gate", "a friendly pat"),
    ("the tall slide", "the slide was very tall", "a little help"),
    ("the deep water", "the water looked very deep", "a soft swim ring"),
]
THINGS_TO_MAKE = [
    ("a tower of blocks", "built", "the tower fell down"),
    ("a sand castle", "built", "a wave washed it away"),
    ("a picture of a cat", "drew", "the paint spilled on it"),
    ("a cake", "baked", "the cake came out flat"),
    ("a paper boat", "folded", "the paper tore"),
    ("a snowman", "made", "the head rolled off"),
    ("a bird house", "made", "the roof fell off"),
    ("a necklace of beads", "made", "the string broke"),
]
TROUBLES = [
    ("was stuck up a tall tree", "helped it climb down"),
    ("had a hurt leg", "gave it a soft bed and some water"),
    ("could not find its mom", "helped it look for its mom"),
    ("was stuck in a muddy hole", "pulled it out of the mud"),
    ("was cold and wet from the rain", "wrapped it in a warm towel"),
    ("was hungry and tired", "gave it some food to eat"),
]
LESSONS = [
    "sharing is more fun than playing alone",
    "it is good to help others",
    "friends make every day better",
    "trying again is the way to win",
    "being brave is not so hard",
    "kind words can fix a sad day",
]
CLOSINGS = [
    "And they lived happily ever after.",
    "It was the best day ever.",
    "Everyone was happy again.",
    "And that was a very good day.",
]


@dataclasses.dataclass
class Character:
    name: str
    kind: str  # "girl", "boy" or an animal word
    subject: str  # "he" or "she"

    @property
    def object(self) -> str:
        return "him" if self.subject == "he" else "her"

    @property
    def possessive(self) -> str:
        return "his" if self.subject == "he" else "her"


def with_article(phrase: str) -> str:
    article = "an" if phrase[0] in "aeiou" else "a"
    return f"{article} {phrase}"


def capitalize(sentence: str) -> str:
    return sentence[0].upper() + sentence[1:]


def make_character(rng: random.Random, allow_animal: bool = True) -> Character:
    subject = rng.choice(["he", "she"])
    if allow_animal and rng.random() < 0.35:
        return Character(rng.choice(ANIMAL_NAMES), rng.choice(ANIMALS), subject)
    names = GIRL_NAMES if subject == "she" else BOY_NAMES
    return Character(rng.choice(names), rng.choice(CHILD_WORDS[subject]), subject)


def make_friend(rng: random.Random, hero: Character) -> Character:
    while True:
        friend = make_character(rng)
        if friend.name != hero.name:
            return friend


def introduce(rng: random.Random, hero: Character) -> str:
    description = with_article(f"{rng.choice(TRAITS)} {hero.kind}")
    variants = [
        f"Once upon a time, there was {description} named {hero.name}.",
        f"Once upon a time, {description} named {hero.name} lived near a big {rng.choice(NEARBY_PLACES)}.",
        f"There once was {description} named {hero.name}.",
        f"{hero.name} was {description}.",
        f"Once upon a time, in a small house, there lived {description} called {hero.name}.",
    ]
    weights = [4, 2, 2, 2, 1]
    return rng.choices(variants, weights)[0]


def describe_liking(rng: random.Random, hero: Character) -> str:
    place = rng.choice(PLACES)
    variants = [
        f"{capitalize(hero.subject)} loved to play {place[1]}.",
        f"{capitalize(hero.subject)} liked to eat {rng.choice(FOODS)}.",
        f"Every day, {hero.subject} went {place[2]} to play.",
        f"{hero.name} had a lot of friends {place[1]}.",
    ]
    return rng.choice(variants)


def closing(rng: random.Random, hero: Character, friend: Character | None) -> list[str]:
    """Return one or two sentences that end a story."""
    options = list(CLOSINGS)
    options.append(f"{hero.name} went to bed with a big smile.")
    if friend is not None:
        options.append(f"From that day on, {hero.name} and {friend.name} were best friends.")
        options.append(f"{hero.name} and {friend.name} played together every day after that.")
    ending = [rng.choice(options)]
    roll = rng.random()
    if roll < 0.3:
        ending.append("The end.")
    elif roll < 0.45:
        ending = ["The end."]
    return ending


def story_lost_object(rng: random.Random) -> tuple[list[str], Character, Character | None]:
    hero = make_character(rng)
    thing = f"{rng.choice(COLORS)} {rng.choice(OBJECTS)}"
    place = rng.choice(PLACES)
    spot = rng.choice(HIDING_SPOTS)
    helper = make_friend(rng, hero) if rng.random() < 0.6 else None
    sentences = [introduce(rng, hero)]
    sentences.append(f"{capitalize(hero.subject)} had {with_article(thing)} and loved it very much.")
    if rng.random() < 0.5:
        sentences.append(f"{capitalize(hero.subject)} took it everywhere {hero.subject} went.")
    sentences.append(rng.choice([
        f"One day, {hero.name} played {place[1]} and lost {hero.possessive} {thing}.",
        f"One {rng.choice(WEATHER)} day, {hero.name} could not find {hero.possessive} {thing}.",
        f"One morning, the {thing} was gone.",
    ]))
    sentences.append(f"{hero.name} felt {rng.choice(SAD_FEELINGS)}.")
    if helper is not None:
        sentences.append(f"Then {with_article(helper.kind)} named {helper.name} came by and said, \"I will help you look!\"")
        finder = helper.name
    else:
        sentences.append(f"{capitalize(hero.subject)} looked high and low.")
        finder = hero.name
    sentences.append(f"At last, {finder} found the {thing} {spot}.")
    sentences.append(rng.choice([
        f"{hero.name} was so {rng.choice(HAPPY_FEELINGS)}.",
        f"{hero.name} hugged {hero.possessive} {thing} and smiled.",
        f"\"Thank you!\" said {hero.name}.",
    ]))
    return sentences, hero, helper


def story_new_friend(rng: random.Random) -> tuple[list[str], Character, Character | None]:
    hero = make_character(rng)
    friend = make_friend(rng, hero)
    place = rng.choice(PLACES)
    sentences = [introduce(rng, hero)]
    if rng.random() < 0.5:
        sentences.append(describe_liking(rng, hero))
    sentences.append(rng.choice([
        f"One day, {hero.subject} went {place[2]} alone.",
        f"One {rng.choice(WEATHER)} day, {hero.name} was {place[1]}.",
    ]))
    sentences.append(rng.choice([
        f"There {hero.subject} saw {with_article(friend.kind)} named {friend.name}.",
        f"{capitalize(hero.subject)} met {with_article(rng.choice(TRAITS) + ' ' + friend.kind)} named {friend.name}.",
    ]))
    if rng.random() < 0.5:
        sentences.append(f"{friend.name} looked {rng.choice(SAD_FEELINGS)} because {friend.subject} had no friends.")
    sentences.append(f"\"Do you want to play with me?\" asked {hero.name}.")
    sentences.append(f"\"Yes!\" said {friend.name}.")
    sentences.append(f"They {rng.choice(PLAY_ACTIONS)} and {rng.choice(PLAY_ACTIONS)}.")
    if rng.random() < 0.4:
        sentences.append("When the sun went down, they said goodbye and went home.")
    return sentences, hero, friend


def story_trip(rng: random.Random) -> tuple[list[str], Character, Character | None]:
    hero = make_character(rng, allow_animal=False)
    relative = rng.choice(FAMILY)
    place = rng.choice([p for p in PLACES if p[0] != "kitchen"])
    animal = rng.choice(ANIMALS)
    sentences = [introduce(rng, hero)]
    sentences.append(f"One {rng.choice(WEATHER)} day, {hero.possessive} {relative} took {hero.object} {place[2]}.")
    if rng.random() < 0.6:
        sentences.append(f"{hero.name} was very {rng.choice(['excited', 'happy', 'glad'])}.")
    sentences.append(f"{place[1].capitalize()}, {hero.subject} saw {with_article(rng.choice(ANIMAL_COLORS) + ' ' + animal)}.")
    if rng.random() < 0.5:
        sentences.append(f"The {animal} {rng.choice(PLAY_ACTIONS[:6])} with {hero.object}.")
    sentences.append(f"Then they ate {rng.choice(FOODS)} together.")
    if rng.random() < 0.5:
        sentences.append(f"\"This is so much fun!\" said {hero.name}.")
    sentences.append(f"When it was time to go home, {hero.name} said, \"Can we come back soon?\"")
    sentences.append(f"{capitalize(hero.possessive)} {relative} smiled and said yes.")
    return sentences, hero, None


def story_fear(rng: random.Random) -> tuple[list[str], Character, Character | None]:
    hero = make_character(rng)
    scary, scene, comfort = rng.choice(SCARY_THINGS)
    relative = rng.choice(FAMILY)
    sentences = [introduce(rng, hero)]
    sentences.append(f"{hero.name} was afraid of {scary}.")
    sentences.append(f"One night, {scene}." if scary in ("the dark", "thunder") else f"One day, {scene}.")
    sentences.append(f"{hero.name} felt scared and began to cry.")
    sentences.append(f"{capitalize(hero.possessive)} {relative} came and gave {hero.object} {comfort}.")
    sentences.append(f"\"You are braver than you think,\" said {hero.possessive} {relative}.")
    if rng.random() < 0.5:
        sentences.append(f"{hero.name} took a deep breath and counted to ten.")
    sentences.append(f"Soon {hero.name} was not afraid anymore.")
    if rng.random() < 0.4:
        sentences.append(f"{capitalize(hero.subject)} learned that {rng.choice(LESSONS[4:])}.")
    return sentences, hero, None


def story_making(rng: random.Random) -> tuple[list[str], Character, Character | None]:
    hero = make_character(rng)
    thing, verb, mishap = rng.choice(THINGS_TO_MAKE)
    helper = make_friend(rng, hero) if rng.random() < 0.5 else None
    sentences = [introduce(rng, hero)]
    sentences.append(f"One day, {hero.name} {verb} {thing}.")
    sentences.append(f"{capitalize(hero.subject)} worked very hard on it.")
    sentences.append(f"But then {mishap}.")
    sentences.append(f"{hero.name} was {rng.choice(SAD_FEELINGS)}.")
    if helper is not None:
        sentences.append(f"{helper.name} the {helper.kind} said, \"Let us try again together.\"")
        sentences.append(f"So {hero.name} and {helper.name} {verb} it again, slowly and carefully.")
    else:
        sentences.append(f"But {hero.subject} did not give up and tried again.")
    sentences.append("This time it was even better than before.")
    if rng.random() < 0.5:
        sentences.append(f"{hero.name} felt {rng.choice(HAPPY_FEELINGS)}.")
    if rng.random() < 0.3:
        sentences.append(f"{capitalize(hero.subject)} learned that trying again is the way to win.")
    return sentences, hero, helper


def story_helping(rng: random.Random) -> tuple[list[str], Character, Character | None]:
    hero = make_character(rng)
    animal = rng.choice([a for a in ANIMALS if a != hero.kind])
    trouble, fix = rng.choice(TROUBLES)
    place = rng.choice(PLACES)
    sentences = [introduce(rng, hero)]
    if rng.random() < 0.4:
        sentences.append(describe_liking(rng, hero))
    sentences.append(f"One day, {place[1]}, {hero.name} saw {with_article(rng.choice(TRAITS) + ' ' + animal)}.")
    sentences.append(f"The {animal} {trouble}.")
    sentences.append(f"\"Do not worry, I will help you,\" said {hero.name}.")
    sentences.append(f"{hero.name} {fix}.")
    sentences.append(f"The {animal} was very {rng.choice(['happy', 'thankful', 'glad'])}.")
    if rng.random() < 0.5:
        sentences.append(f"It gave {hero.name} a big hug.")
    if rng.random() < 0.4:
        sentences.append(f"{hero.name} learned that it is good to help others.")
    friend = Character(rng.choice(ANIMAL_NAMES), animal, "he")
    if rng.random() < 0.5:
        sentences.append(f"{capitalize(hero.subject)} named the {animal} {friend.name}.")
        return sentences, hero, friend
    return sentences, hero, None


def story_sharing(rng: random.Random) -> tuple[list[str], Character, Character | None]:
    hero = make_character(rng)
    friend = make_friend(rng, hero)
    thing = f"{rng.choice(COLORS)} {rng.choice(OBJECTS)}"
    place = rng.choice(PLACES)
    sentences = [introduce(rng, hero)]
    sentences.append(f"{hero.name} and {friend.name} were playing {place[1]}.")
    sentences.append(f"They both wanted the {thing}.")
    sentences.append(f"\"It is mine!\" said {hero.name}, and {friend.name} began to cry.")
    if rng.random() < 0.5:
        sentences.append(f"{hero.name} felt bad when {hero.subject} saw {friend.name} cry.")
    sentences.append(f"Then {hero.subject} had an idea.")
    sentences.append(f"\"We can take turns,\" said {hero.name}.")
    sentences.append(f"They shared the {thing} and {rng.choice(PLAY_ACTIONS)}.")
    if rng.random() < 0.5:
        sentences.append(f"They learned that {LESSONS[0]}.")
    return sentences, hero, friend


STORY_KINDS = [
    story_lost_object,
    story_new_friend,
    story_trip,
    story_fear,
    story_making,
    story_helping,
    story_sharing,
]
MIN_SENTENCES = 7
MAX_SENTENCES = 10


def make_story(rng: random.Random) -> str:
    """Return one story of MIN_SENTENCES to MAX_SENTENCES sentences, ending included."""
    body, hero, friend = rng.choice(STORY_KINDS)(rng)
    ending = closing(rng, hero, friend)
    # Drop random body sentences, never the opening one, until the story fits the limit.
    while len(body) + len(ending) > MAX_SENTENCES:
        del body[rng.randrange(1, len(body))]
    sentences = body + ending
    assert len(sentences) >= MIN_SENTENCES
    text = " ".join(sentences)
    assert text.isascii(), text
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="path of the corpus text file to write")
    parser.add_argument("--stories", type=int, default=20000, help="number of stories (default 20000)")
    parser.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    stories = [make_story(rng) for _ in range(args.stories)]
    with open(args.output, "w", encoding="ascii", newline="") as file:
        for story in stories:
            file.write(story)
            file.write(SEPARATOR)

    total_chars = sum(len(story) for story in stories)
    unique = len(set(stories))
    print(f"make_corpus: wrote {len(stories)} stories ({unique} unique), {total_chars} characters to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
